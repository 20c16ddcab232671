from core.slug import anchor_slug, learn_url


def test_anchor_slug_drops_punctuation_and_hyphenates_spaces():
    assert anchor_slug("Use case: Personas for AI processes") == "use-case-personas-for-ai-processes"
    assert anchor_slug("What is an AI workload?") == "what-is-an-ai-workload"
    assert anchor_slug("Scale: GPUs, quotas & caching?") == "scale-gpus-quotas--caching"
    assert anchor_slug("Implement agentic AI safeguards ") == "implement-agentic-ai-safeguards"
    assert anchor_slug("Choose the right frameworks, libraries, and protocols") == (
        "choose-the-right-frameworks-libraries-and-protocols"
    )


def test_anchor_slug_reads_link_and_emphasis_text():
    assert anchor_slug("[**Intelligent application workload**](#tab/intelligentaiworkload)") == (
        "intelligent-application-workload"
    )


def test_learn_url_maps_docs_path_to_learn_page():
    assert learn_url("ai/test.md", "test-the-inference-endpoint") == (
        "https://learn.microsoft.com/azure/well-architected/ai/test#test-the-inference-endpoint"
    )
    assert learn_url("security/index.md") == "https://learn.microsoft.com/azure/well-architected/security/"
