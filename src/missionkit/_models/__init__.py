"""
The data model, one module per concern; `missionkit.models` is the public face.
"""
