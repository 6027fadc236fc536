"""The PyTorch port of toxic-comment-classifier's Jigsaw BiLSTM, on the package's real files."""

import builtins
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trainer.keras_reference import KerasJigsawReference, keras_texts_to_ids
from trainer.jigsaw import (
    MODEL_FILE,
    SOURCE_FILE,
    VOCABULARY_FILE,
    JigsawScorer,
    TokenizerUnpickler,
    Vocabulary,
    convert_jigsaw,
    find_package_dir,
    load_jigsaw_scorer,
    read_tokenizer,
)
from trainer.scorers import LABELS, ScorerUnavailable

JIGSAW_COLUMNS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
INSULT = "You are an idiot."
SHIPPING = "Standard shipping takes 2 to 4 days."
RARE = "shattering"  # index 20000 in word_index: the first one num_words=20000 drops
LAST_KEPT = "wes"  # index 19999
TEXTS = [
    INSULT,
    SHIPPING,
    "",
    "   \t\n  ",
    "!!! ??? ... ---",
    "YOU ARE AN IDIOT!!!",
    "you are an idiot",
    "Thanks, happy to help!",
    "I will find you and hurt you.",
    "People from Mexico are all thieves.",
    "That jacket is a hell of a deal",
    "Shut up",
    "xqzvbnm flurbledorp unknownwordz",
    f"{RARE} {RARE} {LAST_KEPT}",
    "Café naïve résumé — “quotes” and emoji 🙂",
    "don't won't I'll it's",
    "foo-bar_baz/qux(quux)[corge]{grault}",
    "Call 555-0123 or mail help@example.com, ref #A17.",
    "stupid " * 3,
    "word " * 99 + "idiot",
    " ".join(["the"] * 30 + ["thank you for your help"] * 20),  # 130 tokens
    "idiot " + "nice and kind and polite " * 30,  # the insult is cut off: only the last 100 count
    "nice and kind and polite " * 30 + "idiot",
    "Your order #1234 has shipped.\nTracking: XYZ\tETA Monday",
    "Please stop spamming this page, it's vandalism.",
    "I hate you, you worthless piece of garbage",
    "the",
    "a",
    "Are you kidding me? This is the worst service ever.",
    "What a lovely day to return a jacket.",
    "HeLLo WoRLD",
    "1 2 3 4 5 6 7 8 9 10",
]


@pytest.fixture(scope="module")
def package_dir() -> Path:
    return find_package_dir()


@pytest.fixture(scope="module")
def tokenizer(package_dir: Path) -> dict[str, Any]:
    """The real pickle's attributes, full word_index included."""
    with (package_dir / "model" / "tokenizer.pickle").open("rb") as file:
        return vars(TokenizerUnpickler(file).load())


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory the first load converted into; tests that change it use a copy."""
    cache = tmp_path_factory.mktemp("scorers") / "jigsaw"
    load_jigsaw_scorer(cache)
    return cache


@pytest.fixture(scope="module")
def scorer(converted: Path) -> JigsawScorer:
    return load_jigsaw_scorer(converted)


@pytest.fixture
def cache(converted: Path, tmp_path: Path) -> Path:
    return shutil.copytree(converted, tmp_path / "jigsaw", copy_function=shutil.copy2)


@pytest.fixture(scope="module")
def vocabulary(scorer: JigsawScorer) -> Vocabulary:
    return scorer.vocabulary


def padded(*ids: int, maxlen: int = 100) -> list[int]:
    return [0] * (maxlen - len(ids)) + list(ids)


# --- the port against a numpy reading of Keras ---------------------------------------------


def test_port_matches_the_numpy_keras_reference(scorer, tokenizer, package_dir):
    ids = keras_texts_to_ids(TEXTS, tokenizer, maxlen=100)
    assert scorer.vocabulary.encode(TEXTS).tolist() == ids.tolist()
    expected = KerasJigsawReference(package_dir / "model" / "model.weights.h5").predict(ids)
    scores = scorer.score(TEXTS)
    ported = np.array([scores[label] for label in LABELS]).T  # LABELS are in Jigsaw's order
    difference = np.abs(ported - expected).max()
    print(f"max abs difference to the numpy reference: {difference:.2e}")
    assert difference < 1e-5
    assert expected.min() < 0.01 and expected.max() > 0.99  # the texts span the range


# --- tokenization -----------------------------------------------------------------------------


def test_real_tokenizer_settings_are_kept(vocabulary):
    assert (vocabulary.lower, vocabulary.split, vocabulary.char_level) == (True, " ", False)
    assert vocabulary.filters == KERAS_FILTERS
    assert (vocabulary.num_words, vocabulary.oov_token, vocabulary.maxlen) == (20000, None, 100)
    assert len(vocabulary.word_index) == 19999
    assert max(vocabulary.word_index.values()) == 19999


def test_filters_become_spaces_and_text_is_lower_cased(vocabulary):
    assert vocabulary.words("Hello,WORLD!\tfoo-bar\nbaz (qux)") == [
        "hello",
        "world",
        "foo",
        "bar",
        "baz",
        "qux",
    ]
    # The apostrophe is not a filter: contractions are words of their own.
    assert vocabulary.words("Don't") == ["don't"]
    # Only the split character splits: other whitespace stays inside a word.
    assert vocabulary.words("a\u00a0b  c") == ["a\u00a0b", "c"]


def test_known_words_map_to_their_indices(vocabulary):
    assert vocabulary.texts_to_sequences(["The, OF; and!", "you", "Don't"]) == [
        [1, 3, 4],
        [6],
        [59],
    ]


def test_rare_and_unknown_words_are_dropped(vocabulary, tokenizer):
    assert tokenizer["word_index"][RARE] == 20000
    assert tokenizer["word_index"][LAST_KEPT] == 19999
    assert vocabulary.texts_to_sequences([f"the {RARE} flurbledorp {LAST_KEPT}"]) == [[1, 19999]]


def test_short_texts_are_padded_in_front(vocabulary):
    assert vocabulary.encode(["you", "", "!!!"]).tolist() == [padded(6), padded(), padded()]


def test_long_texts_keep_their_last_100_words(vocabulary):
    text = "the " * 20 + "a of " * 50
    assert vocabulary.encode([text]).tolist() == [[5, 3] * 50]
    exactly_100 = " ".join(["of"] * 99 + ["you"])
    assert vocabulary.encode([exactly_100]).tolist() == [[3] * 99 + [6]]


def test_oov_token_and_char_level_are_honoured():
    settings = dict(filters=KERAS_FILTERS, split=" ", maxlen=4, labels=("toxic",))
    with_oov = Vocabulary(
        word_index={"<oov>": 1, "a": 2},
        lower=True,
        char_level=False,
        num_words=3,
        oov_token="<oov>",
        **settings,
    )
    assert with_oov.encode(["A zzz a b c"]).tolist() == [[1, 2, 1, 1]]
    chars = Vocabulary(
        word_index={"a": 1, "b": 2, " ": 3},
        lower=False,
        char_level=True,
        num_words=None,
        oov_token=None,
        **settings,
    )
    assert chars.texts_to_sequences(["ab Ab!"]) == [[1, 2, 3, 2]]


# --- the restricted unpickler -----------------------------------------------------------------


class Payload:
    """Pickles as a call of `function(*args)`, which a plain pickle.load would make."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.args


@pytest.mark.parametrize(
    ("make_payload", "refused"),
    [
        (lambda marker: Payload(os.system, f"touch {marker}"), "posix.system"),
        (lambda marker: Payload(eval, f"open({str(marker)!r}, 'w')"), "builtins.eval"),
        (lambda marker: Payload(exec, f"open({str(marker)!r}, 'w')"), "builtins.exec"),
        (lambda marker: Payload(subprocess.call, ["touch", str(marker)]), "subprocess.call"),
        (lambda marker: Payload(builtins.open, str(marker), "w"), "io.open"),
        (lambda marker: Payload(Path.touch, marker), "pathlib.Path.touch"),
    ],
)
def test_unpickler_refuses_other_callables_before_they_run(tmp_path, make_payload, refused):
    marker = tmp_path / "ran"
    path = tmp_path / "tokenizer.pickle"
    path.write_bytes(pickle.dumps({"word_index": make_payload(marker)}))
    with pytest.raises(pickle.UnpicklingError, match=refused.replace(".", r"\.")):
        read_tokenizer(path)
    assert not marker.exists()


def test_unpickler_refuses_a_pickle_that_is_not_a_tokenizer(tmp_path):
    path = tmp_path / "tokenizer.pickle"
    path.write_bytes(pickle.dumps({"word_index": {"a": 1}}))
    with pytest.raises(pickle.UnpicklingError, match="not a Tokenizer"):
        read_tokenizer(path)


def test_unpickler_loads_the_real_tokenizer(tokenizer):
    assert len(tokenizer["word_index"]) == 210_337
    assert tokenizer["word_index"]["the"] == 1
    assert tokenizer["num_words"] == 20000 and tokenizer["analyzer"] is None


# --- conversion and its cache -----------------------------------------------------------------


def file_stamps(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in directory.iterdir()
    }


def test_conversion_writes_plain_files(converted, package_dir):
    out = converted
    assert sorted(path.name for path in out.iterdir()) == [MODEL_FILE, SOURCE_FILE, VOCABULARY_FILE]
    assert [path.name for path in out.parent.iterdir()] == ["jigsaw"]  # no staging left behind
    source = json.loads((out / SOURCE_FILE).read_text())
    assert source["package"] == "toxic-comment-classifier" and source["version"] == "0.3.0"
    for name in ("model.weights.h5", "tokenizer.pickle"):
        digest = hashlib.sha256((package_dir / "model" / name).read_bytes()).hexdigest()
        assert source["sha256"][name] == digest
    vocabulary = json.loads((out / VOCABULARY_FILE).read_text())
    assert vocabulary["labels"] == JIGSAW_COLUMNS
    assert len(vocabulary["word_index"]) == 19999 and vocabulary["maxlen"] == 100


def test_loading_imports_neither_the_package_nor_keras(scorer):
    assert not {"toxic_classifier", "tensorflow", "keras"} & set(sys.modules)


def test_second_load_reuses_the_conversion(converted, scorer):
    stamps = file_stamps(converted)
    again = load_jigsaw_scorer(converted)
    assert file_stamps(converted) == stamps
    assert again.score([INSULT]) == scorer.score([INSULT])


@pytest.mark.parametrize("damage", ["other version", "other hash", "missing"])
def test_a_conversion_from_other_sources_is_redone(cache, damage):
    source_path = cache / SOURCE_FILE
    real_source = source_path.read_text()
    source = json.loads(real_source)
    if damage == "other version":
        source["version"] = "0.2.0"
    elif damage == "other hash":
        source["sha256"]["model.weights.h5"] = "0" * 64
    (cache / "left-over.txt").write_text("from an older conversion")
    source_path.write_text(json.dumps(source))
    if damage == "missing":
        source_path.unlink()
    stamps = file_stamps(cache)
    load_jigsaw_scorer(cache)
    assert source_path.read_text() == real_source
    assert file_stamps(cache)[MODEL_FILE] != stamps[MODEL_FILE]
    assert not (cache / "left-over.txt").exists()  # replaced whole, not file by file


def test_a_failed_conversion_leaves_the_previous_one_untouched(cache, tmp_path, package_dir):
    stamps = file_stamps(cache)
    broken = tmp_path / "package"
    shutil.copytree(package_dir / "model", broken / "model")
    (broken / "model" / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(OSError):
        convert_jigsaw(broken, cache)
    assert file_stamps(cache) == stamps
    assert sorted(path.name for path in tmp_path.iterdir()) == ["jigsaw", "package"]


def test_a_conversion_that_cannot_be_put_in_place_leaves_no_staging(tmp_path, package_dir):
    blocker = tmp_path / "jigsaw"
    blocker.write_text("a file where the cache directory should go")
    with pytest.raises(OSError):
        convert_jigsaw(package_dir, blocker)
    assert [path.name for path in tmp_path.iterdir()] == ["jigsaw"]
    assert blocker.is_file()


@pytest.mark.parametrize("name", [MODEL_FILE, VOCABULARY_FILE])
def test_a_corrupt_conversion_is_a_clear_error(cache, name):
    path = cache / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ScorerUnavailable, match=r"unreadable.*delete that directory"):
        load_jigsaw_scorer(cache)


def test_a_missing_package_names_the_install_command(tmp_path, monkeypatch):
    # A None entry in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "toxic_classifier", None)
    with pytest.raises(
        ScorerUnavailable, match=r"pip install --no-deps toxic-comment-classifier==0\.3\.0"
    ):
        load_jigsaw_scorer(tmp_path / "jigsaw")
    assert not (tmp_path / "jigsaw").exists()


# --- the scorer -------------------------------------------------------------------------------


def test_scorer_speaks_the_toxicity_scorer_protocol(scorer):
    assert scorer.labels == LABELS
    assert scorer.name == "jigsaw-bilstm (toxic-comment-classifier 0.3.0)"
    assert set(scorer.thresholds) == set(LABELS)
    assert scorer.score([]) == {label: [] for label in LABELS}
    scores = scorer.score(TEXTS[:5])
    assert all(len(values) == 5 and all(0 <= v <= 1 for v in values) for values in scores.values())


def test_scores_do_not_depend_on_batching(scorer):
    together = scorer.score(TEXTS)
    alone = [scorer.score([text]) for text in TEXTS]
    for label in LABELS:
        separate = [scores[label][0] for scores in alone]
        assert np.allclose(together[label], separate, atol=1e-6)
    assert scorer.score(TEXTS) == together


def test_sanity_on_real_sentences(scorer):
    scores = scorer.score([INSULT, SHIPPING])
    assert scores["toxicity"][0] > 0.9 and scores["insult"][0] > 0.9
    assert all(scores[label][1] < 0.2 for label in LABELS)
