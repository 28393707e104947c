"""Data curation (module M5): from a raw "crawl" to clean training tokens, each step measured.

    crawl.py       a reproducible raw crawl with ground truth: real prose and documentation, web-like
                   junk, personal data and planted duplicates, every document labelled
    filters.py     heuristic quality rules in the style of C4 and Gopher, each with its rationale, and a
                   report of what each rule dropped, scored against the crawl's labels
    langid.py      language identification: naive Bayes over character n-grams, trained on faker's words
    dedup.py       exact and near-duplicate detection: MinHash signatures and LSH banding, from scratch
    classifier.py  GPT-3's quality filter: logistic regression on hashed word n-grams, the Pareto keep rule
    pii.py         personal data redaction (e-mail, phone, IP addresses, Luhn-checked card numbers)
    mixture.py     drawing documents from sources by weight; epochs elapsed per source (GPT-3, LLaMA)
    shards.py      token ids in numbered shard files, written atomically, refused when from another
                   tokenizer; documents encoded in several processes
    pipeline.py    all of it in order, with a funnel of what each step kept and dropped

Every step reports what it dropped or changed, scored against the crawl's labels (precision and recall).
"""
