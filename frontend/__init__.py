"""The admin console (*extension (console)*, DESIGN.md §12): Django templates over the monitoring selectors."""
