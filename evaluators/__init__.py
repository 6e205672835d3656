"""Judges behind one interface, and the batch runner that scores videos into the store."""
