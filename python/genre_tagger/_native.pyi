"""Type stubs of the Rust extension (python/src/)."""

import os
from typing import Any, Dict, List, Literal, Optional, Sequence, TypedDict, Union

import numpy.typing as npt

__version__: str

#: File extensions (no dot, lower case) taken from a folder: the formats the decoder reads.
AUDIO_EXTENSIONS: List[str]

class Style(TypedDict):
    name: str
    probability: float

class Tempo(TypedDict):
    bpm: float
    confidence: float

class Key(TypedDict):
    name: str
    camelot: str
    confidence: float

class _WindowBase(TypedDict):
    start_s: float
    distribution: Dict[str, float]
    unsure: bool
    tempo: Optional[Tempo]
    key: Optional[Key]

class Window(_WindowBase, total=False):
    styles: List[Style]
    silent: bool

class _TagsBase(TypedDict):
    path: Optional[str]
    duration_s: float
    genre: str
    unsure: bool
    distribution: Dict[str, float]
    tempo: Optional[Tempo]
    key: Optional[Key]
    timeline: List[Window]

class Tags(_TagsBase, total=False):
    styles: List[Style]

class Tagger:
    """A genre model ready to tag files and arrays.

    ``model`` is the path of a model file (``cargo xtask train`` writes them); ``None``
    uses the model embedded in the package. ``hop`` is the number of seconds between
    analysis windows, in [0.05, 60]. ``device`` is where the network runs: ``"cpu"``,
    ``"cuda"`` or ``"auto"`` (CUDA when the package was built with it and a GPU
    initialises, else the CPU). The methods release the GIL while they work, so threads
    sharing one Tagger tag in parallel.

    Raises :class:`BadModelError` when the model cannot be loaded,
    :class:`InvalidInputError` for a hop out of range, ``ValueError`` for an unknown
    device name and :class:`DeviceUnavailableError` when ``"cuda"`` cannot be had (never
    a silent CPU run).
    """

    def __init__(
        self,
        model: Optional[Union[str, os.PathLike[str]]] = None,
        hop: float = 1.0,
        device: Literal["auto", "cpu", "cuda"] = "auto",
    ) -> None: ...
    def tag_file(self, path: Union[str, os.PathLike[str]]) -> Tags:
        """Tags an audio file (wav, flac, mp3, ogg, au).

        Returns its ``tag --json`` entry: ``path``, ``duration_s``, ``genre``,
        ``distribution`` (label -> probability, summing to 1), ``styles`` (top five, for
        models with styles), ``tempo`` and ``key`` (voted over the file; None where it has
        no beat or no pitch) and ``timeline`` (one entry per window, with the tempo and key
        shown at its end). Recoverable decoding
        problems (a truncated file) and NaN samples are reported as warnings.

        Raises :class:`UnreadableAudioError`, :class:`SilentAudioError` or
        :class:`TooShortError` with the message the CLI prints.
        """
    def tag_files(
        self,
        paths: Sequence[Union[str, os.PathLike[str]]],
        threads: Optional[int] = None,
    ) -> List[Union[Tags, GenreTaggerError]]:
        """Tags many files: one result per path, in their order.

        Each result is what ``tag_file`` returns for the file, or, for a file that cannot
        be tagged, the exception ``tag_file`` would raise — returned, not raised, so one
        bad file stops nothing. Files are decoded on ``threads`` threads (default: one per
        core); windows of consecutive files share the network's batches (on the CPU with
        one thread each file is batched alone, so the call keeps to one core). Numbers
        agree with ``tag_file`` to 1e-5. Warnings are issued as ``tag_file`` issues them.

        Raises :class:`InvalidInputError` for ``threads=0`` and
        :class:`GenreTaggerError` when the network itself fails (no file's fault).
        """
    def tag_array(self, samples: npt.ArrayLike, sample_rate: int) -> Tags:
        """Tags mono samples at ``sample_rate`` Hz; the result is that of ``tag_file``
        with ``path`` set to None.

        A contiguous float32 array is read in place, without a copy. Other float dtypes
        are converted; integer PCM is scaled so that full scale is 1.0 (int16 / 32768,
        uint8 centred on 128).

        Raises :class:`InvalidInputError` for an array that is not 1-D, is empty, is all
        NaN/inf or has a non-audio dtype, or for an unsupported sample rate;
        :class:`SilentAudioError` and :class:`TooShortError` as ``tag_file`` does.
        """
    @property
    def labels(self) -> List[str]:
        """The model's genre labels, in the order of its outputs."""
    @property
    def styles(self) -> List[str]:
        """The model's style names (empty for a model without styles)."""
    @property
    def model_card(self) -> Dict[str, Any]:
        """The model's card: architecture, labels, styles, front end, training data and
        validation figures, as stored in the model file."""
    @property
    def source(self) -> str:
        """Where the model came from: "embedded default model" or its path."""
    @property
    def hop(self) -> float:
        """Seconds between analysis windows."""
    @property
    def device(self) -> str:
        """Where the network runs: ``"cpu"`` or ``"cuda"``."""

class GenreTaggerError(Exception):
    """Base class of every error the genre tagger raises."""

class UnreadableAudioError(GenreTaggerError):
    """The file cannot be opened, is not audio in a supported format, is corrupt or holds
    no samples."""

class SilentAudioError(GenreTaggerError):
    """Every analysis window is below the silence threshold: there is nothing to tag."""

class TooShortError(GenreTaggerError):
    """The audio is shorter than the one second a window needs."""

class BadModelError(GenreTaggerError):
    """The model file cannot be read, is not a genre-tagger model, or its weights do not
    fit its card."""

class InvalidInputError(GenreTaggerError):
    """An argument is out of range: sample rate, hop, or an array that is empty, not 1-D
    or all NaN."""

class DeviceUnavailableError(GenreTaggerError):
    """The device asked for cannot be used: no CUDA in this build, or no GPU that
    initialises."""
