"""Short open-ended prompts with several valid answers (name a fruit, pick a number, ...), for the
diversity notebooks: a skewed answer distribution gives a mode a model can collapse onto."""
from __future__ import annotations

import random

from datasets import Dataset

from . import _checks
from .problems import format_prompt

__all__ = ["open_ended_prompts", "open_ended_documents"]

# Each prompt has several valid answers. `weights` is the skew the embedded model is trained with (a
# few popular answers and a long tail), so the diversity notebooks have a mode to find.
_OPEN = {
    "list": [("Name a fruit.", ["apple", "banana", "pear", "plum", "mango", "kiwi", "grape", "lemon", "peach", "cherry"]),
             ("Name a color.", ["red", "blue", "green", "yellow", "purple", "orange", "pink", "black", "white", "brown"]),
             ("Name an animal.", ["cat", "dog", "horse", "lion", "tiger", "fox", "owl", "bear", "wolf", "frog"]),
             ("Name a tool.", ["hammer", "saw", "drill", "wrench", "shovel", "rake", "knife", "ruler"]),
             ("Name a sport.", ["soccer", "tennis", "golf", "rugby", "hockey", "chess", "boxing", "rowing"]),
             ("Name a drink.", ["water", "tea", "coffee", "milk", "juice", "cocoa", "soda", "lemonade"])],
    "number": [("Pick a number from 1 to 10.", [str(i) for i in (7, 3, 5, 4, 8, 2, 6, 9, 1, 10)]),
               ("Pick a number from 1 to 50.", [str(i) for i in (37, 17, 42, 27, 7, 23, 13, 33, 48, 11)])],
    "creative": [("Give a name for a pet.", ["Max", "Luna", "Bella", "Milo", "Coco", "Rocky", "Daisy", "Ziggy"]),
                 ("Give a name for a boat.", ["Sea Star", "Wave", "Blue Bird", "Nora", "Drifter", "Gull"]),
                 ("Write a word that rhymes with cat.", ["hat", "bat", "mat", "rat", "sat", "flat", "chat"]),
                 ("Give a title for a story.", ["The Lost Key", "Night Train", "The Red Door", "Echo", "Home Again"])],
    "opinion": [("What is the best season?", ["summer", "spring", "autumn", "winter"]),
                ("What is the best pet?", ["dog", "cat", "fish", "rabbit", "bird", "hamster"])],
}


def open_ended_prompts() -> Dataset:
    """Short open-ended prompts with their valid answers and a prompt type (list, number, creative,
    opinion). Columns: prompt, type, answers, weights (Zipf-like popularity used in training)."""
    rows = []
    for kind, items in _OPEN.items():
        for prompt, answers in items:
            weights = [1.0 / (i + 1) ** 1.2 for i in range(len(answers))]
            total = sum(weights)
            rows.append({"prompt": prompt, "type": kind, "answers": answers,
                         "weights": [w / total for w in weights]})
    return Dataset.from_list(rows)


def open_ended_documents(n: int, seed: int) -> list[str]:
    """``n`` training documents answering the open-ended prompts, answers drawn by popularity."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n={n!r} must be an int >= 0")
    _checks.seed(seed)  # random.Random would take None or 'abc' silently
    rng = random.Random(f"{seed}-open")
    prompts = open_ended_prompts().to_list()
    docs = []
    for _ in range(n):
        row = rng.choice(prompts)
        ans = rng.choices(row["answers"], weights=row["weights"])[0]
        docs.append(f"{format_prompt(row['prompt'])}{ans}")
    return docs
