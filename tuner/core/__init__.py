"""The sans-IO core: plain synchronous logic with no trio import.

Rendering, the wire codec, presets, the session state machine, ADTS framing and the
auth token logic live here, tested directly and benchmarked in microseconds. The trio
shell (``tuner.play``, ``tuner.web``, ``tuner.daemon``) only moves bytes between
sockets, pipes and this core.
"""
