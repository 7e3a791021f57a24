#@ ImagePlus imp
#@ String (visibility=MESSAGE, value="Deep-Z: a virtual z-stack from one image (planes start … stop every step)") note
#@ Float (label="Start Δz (µm)", value=-5, stepSize=0.5) start
#@ Float (label="Stop Δz (µm)", value=5, stepSize=0.5) stop
#@ Float (label="Step (µm)", value=0.5, min=0.001, stepSize=0.1) step
#@ File (label="Model (folder or name; empty = default model)", required=false, style="directory") model
#@ Boolean (label="Allow Δz outside the trained range", value=false) allow_extrapolation
#@ Boolean (label="Average over 8 rotations/mirrors (8× slower, more accurate)", value=false) tta
#@output ImagePlus result
# Plugins > Deep-Z > Virtual Stack. All logic lives in deepz_fiji (one call below).
from deepz_fiji.fiji.actions import virtual_stack_imp

result = virtual_stack_imp(imp, start, stop, step, model, allow_extrapolation=allow_extrapolation, tta=tta)
