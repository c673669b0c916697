"""A small byte-level BPE tokenizer, built locally, in which every GLM special token is one token.

Real checkpoints bring their own tokenizer (151k entries); tiny models trained from scratch need a vocabulary
small enough that the embedding table doesn't dominate the parameter count. Digits are split one by one so
numbers tokenise the same way wherever they appear (this helps arithmetic and counting).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from thinkvl.model import tokens as T

# Always part of the training corpus, so common words and all printable ASCII have tokens.
BASE_CORPUS = (
    "The quick brown fox jumps over the lazy dog. 0123456789 + - * / = ( ) [ ] { } < > , . : ; ! ? ' \" % $ # @ & ^",
    "How many objects are there in the image? There are 3 circles. What is the value of the bar? Read the text.",
    "Which option is correct? Answer with the letter. A B C D E F G H I J. yes no left right up down top bottom",
    "red green blue yellow purple orange black white gray circle square triangle star bar line chart value",
    "first second then after before appeared moved frame time seconds at row column box x y width height",
    "Let me think step by step. So the answer is the sum of the two numbers. Therefore, the result is",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
)


def build_tokenizer(corpus: Iterable[str] = (), vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``corpus`` (plus a small built-in corpus); special tokens get ids 0…N-1.

    Deterministic for a given corpus. Any text encodes (byte fallback through the byte-level alphabet).
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(T.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*BASE_CORPUS, *corpus], trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=T.END_OF_TEXT,
        pad_token=T.PAD,
        additional_special_tokens=[t for t in T.SPECIAL_TOKENS if t not in (T.END_OF_TEXT, T.PAD)],
        clean_up_tokenization_spaces=False,
        padding_side="left",  # generation batches are left-padded; passed here so it is saved with the tokenizer
    )
    return wrapped


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Ids of the GLM special tokens; each must be a single token, or the format can't be enforced."""
    ids = {}
    for token in T.SPECIAL_TOKENS:
        encoded = tokenizer.encode(token, add_special_tokens=False)
        if len(encoded) != 1:
            if token == T.PAD:  # real GLM tokenizers have no dedicated pad token
                continue
            raise ValueError(f"tokenizer splits special token {token!r} into {len(encoded)} pieces")
        ids[token] = encoded[0]
    return ids
