#@ ImagePlus imp
#@ String (visibility=MESSAGE, value="Deep-Z: refocus every frame of a time-lapse to one Δz, or to a z-stack per frame") note
#@ String (label="Refocus each frame to", choices={"plane", "stack"}, value="plane") mode
#@ Float (label="Δz (µm) for 'plane'", value=0, stepSize=0.5) dz
#@ Float (label="Start Δz (µm) for 'stack'", value=-2, stepSize=0.5) start
#@ Float (label="Stop Δz (µm) for 'stack'", value=2, stepSize=0.5) stop
#@ Float (label="Step (µm) for 'stack'", value=0.5, min=0.001, stepSize=0.1) step
#@ File (label="Model (folder or name; empty = default model)", required=false, style="directory") model
#@ Boolean (label="Allow Δz outside the trained range", value=false) allow_extrapolation
#@ Boolean (label="Average over 8 rotations/mirrors (8× slower, more accurate)", value=false) tta
#@output ImagePlus result
# Plugins > Deep-Z > Refocus Video. All logic lives in deepz_fiji (one call below).
from deepz_fiji.fiji.actions import refocus_video_imp

result = refocus_video_imp(imp, mode, dz, start, stop, step, model, allow_extrapolation=allow_extrapolation, tta=tta)
