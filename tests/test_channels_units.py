"""Pure pieces of the channel renderers: audio files, SMS segments and delivery, dialogue text,
time formats, the sorted writer."""

from __future__ import annotations

import email.utils
import io
import json
import random
import wave
from datetime import UTC, datetime, timedelta

import pytest
import webvtt

from simulator.channels import dialogues as d
from simulator.channels.audio import (
    AudioStore,
    mp3_duration_seconds,
    mp3_frames,
    silent_mp3,
    tone_wav,
)
from simulator.channels.common import SortedJsonlWriter, iso_z, rfc2822
from simulator.channels.recordings import render_vtt, vtt_timestamp
from simulator.channels.twilio_sms import STATUS_RANK, plan_delivery, sms_segments


def test_silent_mp3_is_a_chain_of_valid_layer3_frames_of_the_asked_length():
    data = silent_mp3(3.0)
    frames = mp3_frames(data)
    assert len(frames) == 84 and {(b, r) for _, b, r in frames} == {(8000, 16000)}
    assert 3.0 <= mp3_duration_seconds(data) < 3.04
    assert len(data) == 84 * 36
    with pytest.raises(ValueError):
        mp3_frames(data[:-5])  # a truncated last frame is detected
    with pytest.raises(ValueError):
        mp3_frames(b"RIFF" + data)


def test_tone_wav_is_a_readable_8khz_mono_pcm_file_and_variants_differ():
    a, b = tone_wav(2, 0), tone_wav(2, 1)
    with wave.open(io.BytesIO(a)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 1, 8000, 16000)
        frames = w.readframes(w.getnframes())
    assert max(frames) - min(frames) > 100  # not silence
    assert a != b and a == tone_wav(2, 0)


def test_audio_store_writes_each_clip_once_and_links_the_copies(tmp_path):
    store = AudioStore()
    made = []
    for i in range(5):
        store.write(tmp_path / f"{i}.wav", "wav", "same", lambda: made.append(1) or tone_wav(1, 3))
    assert len(made) == 1 and store.files == 5
    assert len({(tmp_path / f"{i}.wav").read_bytes() for i in range(5)}) == 1


@pytest.mark.parametrize(("body", "segments"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("ó" * 70, 1), ("ó" * 71, 2), ("[" * 80, 1), ("[" * 81, 2),
    ("Banco Andino: su código es 123456. Vence en 5 minutos. No lo comparta con nadie.", 2),
])
def test_sms_segments_follow_gsm7_and_ucs2_limits(body, segments):
    assert sms_segments(body) == segments


def test_delivery_plans_end_in_exactly_one_terminal_status_after_the_others():
    rng = random.Random(1)
    created = datetime(2026, 3, 2, 15, tzinfo=UTC)
    finals = set()
    for _ in range(3000):
        plan = plan_delivery(rng, created, rng.choice(("+573001234567", "+525512345678")))
        names = [n for n, _ in plan.steps]
        times = [t for _, t in plan.steps]
        assert times == sorted(times) and times[0] > created
        assert names[0] == "queued" and names[-1] in ("delivered", "undelivered", "failed")
        assert sum(STATUS_RANK[n] == 4 for n in names) == 1
        assert (plan.error is not None) == (names[-1] != "delivered")
        finals.add(names[-1])
    assert finals == {"delivered", "undelivered", "failed"}


def test_time_formats_match_the_providers():
    t = datetime(2025, 9, 15, 15, 33, 10, 987_654, tzinfo=UTC)
    assert rfc2822(t) == "Mon, 15 Sep 2025 15:33:10 +0000" == email.utils.format_datetime(t.replace(microsecond=0))
    assert iso_z(t) == "2025-09-15T15:33:10.987Z" and iso_z(t, ms=False) == "2025-09-15T15:33:10Z"
    assert vtt_timestamp(3725.4) == "01:02:05.400"


def test_sorted_writer_orders_lines_within_the_window_and_refuses_a_late_one(tmp_path):
    base = datetime(2026, 3, 2, tzinfo=UTC)
    w = SortedJsonlWriter(tmp_path / "x.jsonl")
    for minutes in (5, 1, 3):
        w.push(base + timedelta(minutes=minutes), {"m": minutes})
    w.advance(base + timedelta(minutes=4))
    with pytest.raises(RuntimeError, match="out of time order"):
        w.push(base + timedelta(minutes=2), {"m": 2})
    w.push(base + timedelta(minutes=4), {"m": 4})
    w.close()
    lines = [json.loads(x)["m"] for x in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert lines == [1, 3, 4, 5] and w.count == 4


def test_every_topic_script_fills_without_leftover_placeholders():
    rng = random.Random(2)
    for topic in list(d._ES) + ["unknown_topic"]:
        for language in ("es", "en"):
            sc = d.script(topic, language)
            slots = d.draw_slots(rng, language)
            for text in (*sc.ask, *sc.answer, *sc.whatsapp, sc.summary):
                filled = d.fill(text, slots)
                assert "{" not in filled and filled.strip()
    assert d.spoken_digits("4821", "es") == "cuatro ocho dos uno"
    assert d.spoken_digits("07", "en") == "zero seven"


@pytest.mark.parametrize("style", ["cue_id", "voice", "name_prefix"])
def test_vtt_in_each_webex_style_parses_and_fits_the_call(tmp_path, style):
    lines = [("agent", "Banco Andino, buenos días."), ("customer", "Hola, perdí mi tarjeta y necesito bloquearla."),
             ("agent", "Listo, quedó bloqueada.")]
    text = render_vtt(lines, 20, "Ana Pérez", 2012345678, "3e9a7c12-4d6f-4a85-8b3c-1f2e5a7d9c43",
                      "Unknown Speaker", style)
    path = tmp_path / "t.vtt"
    path.write_text(text, encoding="utf-8")
    captions = webvtt.read(str(path)).captions
    assert [c.text for c in captions][1].endswith("necesito bloquearla.")
    assert captions[-1].end_in_seconds <= 20
    if style == "voice":
        assert [c.voice for c in captions] == ["Ana Pérez", "Unknown Speaker", "Ana Pérez"]
    else:
        assert captions[0].identifier == '1 "Ana Pérez" (2012345678) (3e9a7c12-4d6f-4a85-8b3c-1f2e5a7d9c43)'
        assert captions[1].identifier == '2 "Unknown Speaker" (0)'
    if style == "name_prefix":
        assert captions[0].text.startswith("Ana Pérez: ")
