"""tuner: watch a video where video is not allowed to play.

A Trio daemon that turns a video into ASCII-art frames drawn on a browser canvas, with
the sound as a plain audio stream.
"""

__version__ = "0.1.0"
