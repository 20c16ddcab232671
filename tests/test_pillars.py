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


def test_a_quoted_sentence_takes_the_pillar_of_its_own_content():
    from core.pillars import sentence_pillar

    both = ["security", "cost-optimization"]
    assert sentence_pillar("Track spend against a budget and alert before the bill grows.", both) == "cost-optimization"
    assert sentence_pillar("Encrypt the data and restrict access with RBAC.", both) == "security"
    # Plainly about another pillar, and about none of the chunk's: that pillar.
    assert sentence_pillar("Plan failover to a second region and test the disaster recovery drill.", ["security"]) == (
        "reliability"
    )
    # One weak keyword of another pillar does not move a sentence out of its chunk's pillar.
    assert sentence_pillar("Review the deployment with the workload team.", ["security"]) == "security"
    assert sentence_pillar("Write it down.", []) == "operational-excellence"
