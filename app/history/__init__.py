"""Review history: workloads, their milestones, and what changed between them."""
