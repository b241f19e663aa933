"""The modelship CDK app. Never imported by runtime code."""
