# Loads the workbook's pytest plugin; everything else lives in workbook/plugin.py.
pytest_plugins = ["workbook.plugin"]
