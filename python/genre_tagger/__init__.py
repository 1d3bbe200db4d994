"""Music genre tagging for numpy arrays and audio files.

>>> import genre_tagger
>>> tagger = genre_tagger.Tagger()          # the embedded default model
>>> tags = tagger.tag_file("song.ogg")
>>> tags["genre"], tags["distribution"]["jazz"], tags["tempo"], tags["key"]

Results are the entries of ``cargo xtask tag --json``: the same fields, the same numbers.
Errors are subclasses of :class:`GenreTaggerError`. Many files at once:
:meth:`Tagger.tag_files`; whole libraries on Ray: :func:`genre_tagger.ray.tag_library`
(needs the ``ray`` extra).
"""

from ._native import (
    AUDIO_EXTENSIONS,
    BadModelError,
    DeviceUnavailableError,
    GenreTaggerError,
    InvalidInputError,
    SilentAudioError,
    Tagger,
    TooShortError,
    UnreadableAudioError,
    __version__,
)

__all__ = [
    "Tagger",
    "GenreTaggerError",
    "UnreadableAudioError",
    "SilentAudioError",
    "TooShortError",
    "BadModelError",
    "InvalidInputError",
    "DeviceUnavailableError",
    "AUDIO_EXTENSIONS",
    "__version__",
]
