"""Motion to RGB video: avatars, camera, rasterisation and H.264 encoding."""
