"""What can go wrong importing a model, as exceptions that derive from the builtin they mean."""


class UnknownBase(LookupError):
    """A `--base` name tuneloop does not know."""


class BaseNotInstalled(ModuleNotFoundError):
    """The package that ships a base model's weights is not installed (or lacks its file)."""


class CorruptGGUF(ValueError):
    """The file is not a readable GGUF file: truncated, corrupt, or something else."""


class UnsupportedModel(ValueError):
    """Not a causal LM that transformers can load: no config, no tokenizer, unknown architecture."""


class ImportCheckFailed(RuntimeError):
    """The saved directory does not answer as the model it was made from."""
