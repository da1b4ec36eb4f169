"""Developer tools, not part of the job: the deterministic archive generator
(`python -m devtools.generate`) that makes the sample archive and the test and bench archives."""
