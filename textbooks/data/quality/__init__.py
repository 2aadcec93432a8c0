"""Educational value (phi-1 §2.1): annotate a sample (LLM judge or offline rubric), featurize, train a
random forest, apply it to the corpus as a filter step.

    annotate.py    LLMAnnotator (through textbooks.llm), OfflineRubricAnnotator, the versioned prompt
    featurize.py   HashedNgramFeaturizer, HFCausalLMFeaturizer (CodeGen), PhiFeaturizer, load_featurizer
    classifier.py  train_classifier, EduClassifier (save/load with the featurizer fingerprint),
                   EducationalValueFilter (metadata["edu_score"], drop_reason="low_educational_value")
    plots.py       score histogram, ROC curve, confusion matrix (PNG + JSON)
    config.py      QualityConfig (the `quality:` section of configs/data/curate.yaml)
    cli.py         `textbooks data quality annotate|train|apply`

Nothing heavy is imported here: `import textbooks.data.quality` stays cheap.
"""
