"""Reliability: many processes, crashes mid-write, damaged stores, a real terminal."""
