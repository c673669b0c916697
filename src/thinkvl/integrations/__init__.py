"""Plug-ins for other training frameworks. Each sub-package imports its framework only inside itself."""
