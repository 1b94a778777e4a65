"""Several veo nodes behind HAProxy, and the faults they survive (issue 16; see README.md)."""
