"""Small, real audio files for the simulated recordings, made with the standard library only.

* :func:`silent_mp3` — a valid MPEG-2 Layer III stream (16 kHz mono, 8 kbit/s) of digital
  silence, built frame by frame: every frame has a correct header and all-zero side
  information (no main data), which any MP3 decoder plays as silence. Encoding real sound
  would need an encoder (LAME) the project does not depend on; a decodable silent MP3 keeps the
  ElevenLabs contract (``audio/mpeg``) honest without one.
* :func:`tone_wav` — a RIFF/WAVE PCM file (8 kHz, 8-bit mono, telephony-like) with two
  alternating "voices" (tone bursts of different pitch, soft noise between them), written with
  :mod:`wave`.

Files are clips of a few seconds, not the whole call, so a month of a large center stays small
on disk; :class:`AudioStore` writes each distinct clip once and hard-links the copies.
"""

from __future__ import annotations

import io
import math
import os
import random
import shutil
import wave
from pathlib import Path

import numpy as np

# MPEG-2 (LSF) Layer III, no CRC | bitrate index 1 (8 kbit/s) + 16 kHz | mono
_MP3_HEADER = bytes((0xFF, 0xF3, 0x18, 0xC0))
_MP3_SAMPLES_PER_FRAME = 576
_MP3_SAMPLE_RATE = 16_000
_MP3_FRAME_BYTES = 72 * 8_000 // _MP3_SAMPLE_RATE  # 36: header 4 + mono LSF side info 9 + 23
_MP3_FRAME = _MP3_HEADER + bytes(_MP3_FRAME_BYTES - len(_MP3_HEADER))

WAV_RATE = 8_000


def silent_mp3(seconds: float) -> bytes:
    """A decodable MP3 of ``seconds`` of silence (at least one frame)."""
    frames = max(1, math.ceil(seconds * _MP3_SAMPLE_RATE / _MP3_SAMPLES_PER_FRAME))
    return _MP3_FRAME * frames


def mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """Walks an MPEG audio stream frame by frame: ``(offset, bitrate, sample_rate)`` of each.

    Raises ``ValueError`` on a broken header or a frame running past the end. (The check an
    MP3 decoder makes first; used by the tests and by the sandbox before serving a file.)
    """
    bitrates_lsf_l3 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
    bitrates_v1_l3 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    out = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
            raise ValueError(f"no MPEG frame sync at byte {pos}")
        version = (data[pos + 1] >> 3) & 0b11
        layer = (data[pos + 1] >> 1) & 0b11
        if version == 1 or layer != 0b01:
            raise ValueError(f"not an MPEG Layer III frame at byte {pos}")
        bitrate_index = data[pos + 2] >> 4
        rate_index = (data[pos + 2] >> 2) & 0b11
        padding = (data[pos + 2] >> 1) & 1
        if bitrate_index in (0, 15) or rate_index == 3:
            raise ValueError(f"bad bitrate/sample-rate index at byte {pos}")
        rate = rates[version][rate_index]
        if version == 3:
            bitrate = bitrates_v1_l3[bitrate_index] * 1000
            size = 144 * bitrate // rate + padding
        else:
            bitrate = bitrates_lsf_l3[bitrate_index] * 1000
            size = 72 * bitrate // rate + padding
        if pos + size > len(data):
            raise ValueError(f"frame at byte {pos} runs past the end")
        out.append((pos, bitrate, rate))
        pos += size
    return out


def mp3_duration_seconds(data: bytes) -> float:
    frames = mp3_frames(data)
    if not frames:
        return 0.0
    return len(frames) * _MP3_SAMPLES_PER_FRAME / frames[0][2]


def tone_wav(seconds: float, variant: int) -> bytes:
    """Two alternating tone "speakers" with soft noise between turns; ``variant`` changes the
    pitches and turn lengths so recordings do not all sound alike."""
    rng = random.Random(f"tone_wav:{variant}")
    n = max(1, int(seconds * WAV_RATE))
    pitches = (rng.uniform(170, 260), rng.uniform(300, 420))
    samples = np.full(n, 128.0)
    i = 0
    speaker = 0
    while i < n:
        turn = int(rng.uniform(0.35, 0.9) * WAV_RATE)
        gap = int(rng.uniform(0.08, 0.25) * WAV_RATE)
        f = pitches[speaker]
        k = np.arange(min(turn, n - i))
        envelope = np.minimum(1.0, np.minimum(k / 200, (turn - k) / 200))  # no clicks at the edges
        # a fundamental plus one harmonic, wobbling a little like a voice
        x = np.sin(2 * np.pi * f * k / WAV_RATE) + 0.4 * np.sin(
            4 * np.pi * f * k / WAV_RATE + 0.3 * np.sin(2 * np.pi * 3 * k / WAV_RATE))
        samples[i:i + len(k)] = 128 + envelope * 60 * x / 1.4
        i += turn
        g = max(0, min(gap, n - i))
        noise = np.array([rng.randrange(-3, 4) for _ in range(g)], dtype=float)
        samples[i:i + g] = 128 + noise
        i += gap
        speaker ^= 1
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)  # 8-bit unsigned PCM
        w.setframerate(WAV_RATE)
        w.writeframes(np.clip(np.rint(samples), 0, 255).astype(np.uint8).tobytes())
    return buf.getvalue()


class AudioStore:
    """Writes audio files; identical clips are written once and hard-linked (copied where the
    file system has no hard links), so thousands of recordings cost a handful of files' space."""

    def __init__(self) -> None:
        self._first_path: dict[tuple[str, object], tuple[Path, int]] = {}
        self.files = 0
        self.bytes_written = 0

    def write(self, path: Path, kind: str, key: object, make) -> int:
        """Write the clip identified by ``(kind, key)`` to ``path`` (``make()`` gives its bytes
        the first time); returns the file size."""
        path.parent.mkdir(parents=True, exist_ok=True)
        first = self._first_path.get((kind, key))
        if first is not None:
            path.unlink(missing_ok=True)  # a rerun into the same folder replaces the file
            try:
                os.link(first[0], path)
            except OSError:
                shutil.copyfile(first[0], path)
            self.files += 1
            return first[1]
        data = make()
        path.write_bytes(data)
        self._first_path[(kind, key)] = (path, len(data))
        self.files += 1
        self.bytes_written += len(data)
        return len(data)
