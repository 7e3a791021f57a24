#@ ImagePlus imp
#@ String (visibility=MESSAGE, value="Deep-Z: refocus the image to another plane (Δz > 0 = deeper, away from the objective)") note
#@ Float (label="Δz (µm)", value=0, stepSize=0.5) dz
#@ File (label="Model (folder or name; empty = default model)", required=false, style="directory") model
#@ Boolean (label="Allow Δz outside the trained range", value=false) allow_extrapolation
#@ Boolean (label="Average over 8 rotations/mirrors (8× slower, more accurate)", value=false) tta
#@output ImagePlus result
# Plugins > Deep-Z > Refocus Plane. All logic lives in deepz_fiji (one call below).
from deepz_fiji.fiji.actions import refocus_plane_imp

result = refocus_plane_imp(imp, dz, model, allow_extrapolation=allow_extrapolation, tta=tta)
