"""Runners: platform work on in-domain data, each job in a fresh, locked-down container
with no network, read-only inputs, one output folder and no platform credential.

A job is a description (`RunnerJob`); an executor runs it and hands back what the job
wrote (`RunnerResult`). Docker today (`DockerExecutor`); a Kubernetes Job executor can
implement the same interface.
"""
