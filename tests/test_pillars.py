from core.pillars import classify_pillars, tag_pillars


def test_front_matter_wins_over_everything():
    assert tag_pillars(["Security", "cost"], "reliability/x.md", ["Reliability"], "failover") == [
        "security",
        "cost-optimization",
    ]


def test_folder_when_no_front_matter():
    assert tag_pillars([], "cost-optimization/optimize-scaling-costs.md", ["Title"], "text") == ["cost-optimization"]


def test_heading_when_folder_says_nothing():
    assert tag_pillars([], "ai/design-principles.md", ["Design principles", "Operational Excellence"], "x") == [
        "operational-excellence"
    ]


def test_classifier_reads_the_text_last():
    text = "Encrypt the data, use managed identity and private endpoints to reduce the attack surface."
    assert tag_pillars([], "ai/page.md", ["Page", "Overview"], text)[0] == "security"
    assert classify_pillars("Reduce latency with a cache and scale out GPU capacity")[0] == "performance-efficiency"
