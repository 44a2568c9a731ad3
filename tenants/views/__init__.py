"""Server-rendered pages, split by sub-domain: auth, onboarding (guided setup), dashboard."""
