"""Reads an EDL or FCPXML file with OpenTimelineIO and prints its clips as JSON:
[{name, start_s, duration_s, markers}], in timeline order. Usage: otio_read.py FILE RATE
(RATE: the EDL's frame rate; FCPXML carries its own)."""
import json
import sys

import opentimelineio as otio

path, rate = sys.argv[1], float(sys.argv[2])
kwargs = {"rate": rate} if path.endswith(".edl") else {}
found = otio.adapters.read_from_file(path, **kwargs)
timelines = (
    [found]
    if isinstance(found, otio.schema.Timeline)
    else [t for t in found if isinstance(t, otio.schema.Timeline)]
)
clips = []
for timeline in timelines:
    for clip in timeline.find_clips():
        r = clip.source_range
        clips.append(
            {
                "name": clip.name,
                "start_s": r.start_time.to_seconds(),
                "duration_s": r.duration.to_seconds(),
                "markers": [m.name for m in clip.markers],
            }
        )
print(json.dumps(clips))
