#@ ImagePlus imp
#@ String (visibility=MESSAGE, value="Deep-Z: refocus onto a 3D surface (a tilted plane, a cylinder or a height map in µm)") note
#@ String (label="Surface", choices={"tilt", "cylinder", "height map"}, value="tilt") surface
#@ Float (label="Tilt about x (°)", value=0, min=-89, max=89) tilt_x_deg
#@ Float (label="Tilt about y (°)", value=0, min=-89, max=89) tilt_y_deg
#@ Float (label="Δz offset at the centre (µm)", value=0, stepSize=0.5) offset_um
#@ Float (label="Cylinder radius (µm)", value=100, min=0.001) radius_um
#@ String (label="Cylinder axis", choices={"x", "y"}, value="x") axis
#@ String (label="Cylinder side", choices={"convex", "concave"}, value="convex") side
#@ File (label="Height map (TIFF, µm)", required=false) height_map
#@ File (label="Model (folder or name; empty = default model)", required=false, style="directory") model
#@ Boolean (label="Allow Δz outside the trained range", value=false) allow_extrapolation
#@ Boolean (label="Average over 8 rotations/mirrors (8× slower, more accurate)", value=false) tta
#@output ImagePlus result
# Plugins > Deep-Z > Refocus Surface. All logic lives in deepz_fiji (one call below).
from deepz_fiji.fiji.actions import refocus_surface_imp

result = refocus_surface_imp(imp, surface, model, tilt_x_deg=tilt_x_deg, tilt_y_deg=tilt_y_deg, offset_um=offset_um, radius_um=radius_um, axis=axis, side=side, height_map=height_map, allow_extrapolation=allow_extrapolation, tta=tta)
