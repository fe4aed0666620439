"""
The five phases of an iteration, one module each.
"""
