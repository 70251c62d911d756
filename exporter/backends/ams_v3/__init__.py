"""ams_v3"""
