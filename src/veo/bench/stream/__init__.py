"""``veo bench stream``: the real screen-sharing pipeline measured side by side with VNC.

The pieces, one concern each: :mod:`.lab` (network namespaces, veth, netem), :mod:`.display`
(Xvfb), :mod:`.workload` (the X program that stands for support work and draws the timestamp
pattern), :mod:`.pattern` (that pattern's layout, encoder and decoder), :mod:`.probe` (the same
decoder running in the browser), :mod:`.measure` (CPU, memory, bytes, statistics),
:mod:`.veo_pipeline` and :mod:`.vnc_pipeline` (the two things compared), :mod:`.runner` (the
plan) and :mod:`.report` (table, JSON, chart).
"""
