"""Progressive rollouts (canary, blue-green) driven by automated analysis of live decision records."""
