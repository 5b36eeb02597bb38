"""Optional abstractive summaries from any Hugging Face seq2seq model (IndoBART, IndoT5, mT5).

Not the default: these weights are not available offline here, and an abstractive model can
state things the article does not. Configure ``abstractive_model`` to a hub id or local path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from service.backbone import BackboneError


@dataclass
class AbstractiveSummary:
    text: str
    model: str


class AbstractiveSummarizer:
    def __init__(self, name_or_path: str, max_input_tokens: int = 512, prompt: str = ""):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path).eval()
        except (OSError, ValueError) as error:
            raise BackboneError(
                f"Cannot load abstractive model {name_or_path!r}: {str(error).splitlines()[0]}. "
                "Point abstractive_model at a local save_pretrained directory, or use the extractive default."
            ) from None
        self.name, self.max_input_tokens, self.prompt = name_or_path, max_input_tokens, prompt
        self._lock = threading.Lock()

    @torch.inference_mode()
    def summarize(self, texts: list[str], max_new_tokens: int = 96, num_beams: int = 2) -> list[AbstractiveSummary]:
        inputs = self.tokenizer(
            [self.prompt + t for t in texts],
            truncation=True,
            max_length=self.max_input_tokens,
            padding=True,
            return_tensors="pt",
        )
        with self._lock:
            output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, num_beams=num_beams)
        decoded = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [AbstractiveSummary(text.strip(), self.name) for text in decoded]
