"""Run inside Blender: `blender -b --factory-startup --python tests/blender_read_bvh.py -- OUT.json FILE.bvh ...`.

Imports each BVH file with Blender's own importer (File > Import > Motion Capture, its default axes: forward -Z,
up Y) into an empty scene and writes, per file, what an animator then sees: the number of frames of the
armature's action, the scene's frame rate and the world position of every pose bone's head on every frame.
"""

import builtins
import json
import sys

import bpy

_open = builtins.open


def _open_without_universal_newlines(file, mode="r", *args, **kwargs):
    # Blender 3.4's BVH importer opens its file with mode "rU", which Python 3.11 no longer accepts.
    return _open(file, mode.replace("U", ""), *args, **kwargs)


def read(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=path, update_scene_fps=True, update_scene_duration=True)
    armature = next(obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE")
    first, last = (int(round(frame)) for frame in armature.animation_data.action.frame_range)
    scene = bpy.context.scene
    heads = {}
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        heads[frame - first] = {bone.name: list(armature.matrix_world @ bone.head) for bone in armature.pose.bones}
    return {
        "frames": last - first + 1,
        "fps": scene.render.fps / scene.render.fps_base,
        "bones": [bone.name for bone in armature.pose.bones],
        "heads": heads,
    }


def main():
    out, *paths = sys.argv[sys.argv.index("--") + 1 :]
    builtins.open = _open_without_universal_newlines
    try:
        results = {path: read(path) for path in paths}
    finally:
        builtins.open = _open
    with open(out, "w") as file:
        json.dump(results, file)


main()
