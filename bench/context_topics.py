"""Topics from plain-language descriptions, measured on MMLU-Pro's 14 categories.

One description per category, written once (below) and never changed after seeing results.
The questions are split once (seed 0): 70% train, 30% test. Reported on test, as macro accuracy
(mean of per-category recall) over the 14 categories:

* zero-shot: nearest description (``polyroute.context.TopicIndex``);
* 5-shot: the same topics with 5 example prompts each, drawn at random from the train rows of
  that category (mean and spread over 5 draws);
* ceiling: a supervised linear probe (multinomial logistic regression) on the same embeddings,
  fitted on all train rows.

    .venv/bin/python bench/context_topics.py                      # encoder of the default router
    .venv/bin/python bench/context_topics.py --encoder minilm     # the transformer MiniLM
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from polyroute.context import Topic, TopicIndex
from polyroute.data import load_dataset
from polyroute.encoders import make_encoder

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = {
    "biology": "Biology: living organisms, cells, genetics and DNA, evolution, ecology, anatomy and physiology of plants and animals.",
    "business": "Business: accounting, finance, corporate management, marketing, business ethics, interest, profit and cost calculations.",
    "chemistry": "Chemistry: chemical reactions, elements, molecules, bonds, acids and bases, moles, thermodynamics of reactions and lab chemistry.",
    "computer science": "Computer science: algorithms, data structures, programming and code, computer architecture, networks, operating systems, machine learning.",
    "economics": "Economics: supply and demand, markets, prices, inflation, GDP, monetary and fiscal policy, microeconomics and macroeconomics.",
    "engineering": "Engineering: electrical circuits, mechanical systems, power, signals, fluid mechanics, heat transfer, materials and structural design.",
    "health": "Health and medicine: diseases, symptoms, diagnosis, treatment, drugs, nutrition, clinical medicine and the human body.",
    "history": "History: past events, wars, empires, revolutions, historical documents, societies and political leaders of earlier centuries.",
    "law": "Law: legal rules, courts, contracts, torts, criminal law, constitutional rights, evidence, lawsuits and judges' rulings.",
    "math": "Mathematics: algebra, equations, calculus, functions, geometry, probability, number theory and proofs.",
    "other": "General knowledge: everyday facts, trivia, culture, geography, sports and questions that fit no specific academic subject.",
    "philosophy": "Philosophy: ethics and morality, logic, arguments, metaphysics, knowledge, and the ideas of philosophers such as Kant, Plato and Aristotle.",
    "physics": "Physics: forces, motion, energy, electricity and magnetism, waves, optics, quantum mechanics and relativity.",
    "psychology": "Psychology: human behavior, the mind, cognition, memory, emotions, personality, mental disorders and therapy.",
}


def macro_accuracy(y: np.ndarray, pred: np.ndarray, n: int) -> float:
    return float(np.mean([(pred[y == c] == c).mean() for c in range(n)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="minilm-static")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument(
        "--out", default=None, help="default docs/results/contextual_topics_<encoder>.json"
    )
    args = ap.parse_args()
    ds = load_dataset("mmlu-pro")
    names = sorted(DESCRIPTIONS)
    assert sorted(set(ds.tasks)) == names, sorted(set(ds.tasks))
    y = np.array([names.index(t) for t in ds.tasks])
    texts = [str(p) for p in ds.prompts]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    n_train = int(0.7 * len(y))
    train, test = order[:n_train], order[n_train:]
    enc = make_encoder(args.encoder)
    t = time.perf_counter()
    X = np.asarray(enc.encode(texts), dtype=np.float32)
    embed_s = time.perf_counter() - t
    zero = TopicIndex([Topic(n, DESCRIPTIONS[n]) for n in names], enc)
    acc0 = macro_accuracy(y[test], zero.classify(X[test]), len(names))
    few = []
    for _ in range(args.draws):
        topics = []
        for c, n in enumerate(names):
            pick = rng.choice(train[y[train] == c], 5, replace=False)
            topics.append(Topic(n, DESCRIPTIONS[n], tuple(texts[i] for i in pick)))
        few.append(macro_accuracy(y[test], TopicIndex(topics, enc).classify(X[test]), len(names)))
    probe = LogisticRegression(C=10.0, max_iter=2000).fit(X[train], y[train])
    acc_probe = macro_accuracy(y[test], probe.predict(X[test]), len(names))
    result = {
        "command": f"python bench/context_topics.py --encoder {args.encoder}",
        "encoder": args.encoder,
        "n_train": len(train),
        "n_test": len(test),
        "macro_accuracy_zero_shot": round(acc0, 4),
        "macro_accuracy_5_shot_mean": round(float(np.mean(few)), 4),
        "macro_accuracy_5_shot_draws": [round(a, 4) for a in few],
        "macro_accuracy_linear_probe": round(acc_probe, 4),
        "embed_seconds": round(embed_s, 1),
        "descriptions": DESCRIPTIONS,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "descriptions"}, indent=1))
    out = args.out or ROOT / f"docs/results/contextual_topics_{args.encoder}.json"
    Path(out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
