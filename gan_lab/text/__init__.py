"""Text for text-to-image models: tokens and vocabulary, sentence encoders (hashed fallback, trained GRU), the
image branch trained with them, the contrastive loss, and the frozen encoder's file."""

from gan_lab.text.contrastive import contrastive_loss
from gan_lab.text.encoders import GRUTextEncoder, HashedBagOfWords, ImageEncoder
from gan_lab.text.sentence import SentenceEncoder, hashed_encoder, load_sentence_encoder, save_sentence_encoder
from gan_lab.text.tokenizer import Vocabulary, tokenize

__all__ = [
    "GRUTextEncoder",
    "HashedBagOfWords",
    "ImageEncoder",
    "SentenceEncoder",
    "Vocabulary",
    "contrastive_loss",
    "hashed_encoder",
    "load_sentence_encoder",
    "save_sentence_encoder",
    "tokenize",
]
