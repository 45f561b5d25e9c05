"""Tenancy: cities, associations (the tenant), tenant files, and the public directory pages."""
