"""The studio in the browser: generate, job cards, gallery, image files, credits."""
