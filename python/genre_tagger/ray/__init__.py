"""Tagging a whole library on Ray Data: :func:`tag_library`, also a command::

    python -m genre_tagger.ray DIR OUT.parquet

Needs the ``ray`` extra (``pip install "genre-tagger[ray]"``).
"""

from .library import AUDIO_EXTENSIONS, LibraryRun, list_audio, tag_library

__all__ = ["tag_library", "list_audio", "LibraryRun", "AUDIO_EXTENSIONS"]
