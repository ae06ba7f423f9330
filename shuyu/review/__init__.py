"""The multi-level review (多级评审): submissions, their self-check, the reviewers' votes
level by level, and the registry gate on final approval."""
