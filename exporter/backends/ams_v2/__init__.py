"""ams_v2"""
