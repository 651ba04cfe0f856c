"""LAVIMO: tri-modal (text, video, 3D human motion) retrieval trained on Ray."""
