"""The trio shell around playback: ffmpeg processes, sessions, their supervisor, and
the fan-out of frames and sound to viewers."""
