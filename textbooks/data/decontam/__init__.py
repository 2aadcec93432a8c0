"""Decontamination against HumanEval/MBPP and the similarity analysis of paper §5 (Table 3).

Three detectors, each usable alone (`methods`), over the same benchmark reference sets (`references`):

- `ngram` (§5.1): 13-grams of normalised tokens (lower-case words of docstrings/task texts, code tokens of
  solutions), an index over the benchmark; n-grams shared by several tasks are boilerplate and never match.
- `embedding` (§5.2): L2 distance of L2-normalised embeddings of code snippets (every function of a
  document vs every benchmark solution), from a featurizer of the curation stage
  (`textbooks.data.quality.featurize.load_featurizer`); exact nearest-neighbour search.
- `ast` (§5.2): the AST match rate tau, 1 - Levenshtein distance / length between the serialisations of
  two normalised ASTs (the program's own names, constants, comments, docstrings and annotations ignored;
  builtin and attribute names kept by default, `ast_names: keep-api`), function by function, also in
  documents that do not parse as a whole (`ast_match.recover_modules`).

The paper's rule flags a document when the embedding distance is under a fixed threshold or tau reaches the
chosen match rate (`rule: any`). `detect.Decontaminator` runs them; `detect.DecontaminateFilter` is the
datatrove step; `run.decontaminate` is `textbooks data decontaminate`; `similar.similar_tasks` is the
reverse view, `textbooks data similar`, which splits a benchmark into similar / non-similar task ids.

This package's `__init__` imports nothing, so the CLI modules stay light.
"""
