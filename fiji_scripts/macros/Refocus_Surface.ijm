// Plugins > Deep-Z > Refocus Surface: refocus the plane shown onto a tilted plane, a cylinder or a
// height map (an open image of heights in um). Macro: run("Refocus Surface", "surface=tilt
// tilt_x=5 tilt_y=0 offset=0 radius=100 axis=x side=convex height_map=[none] [model=DIR] [allow_extrapolation] [tta]");
what = "Refocus Surface";
deepzRequireImage(what);
source = getImageID();
title = deepzShortTitle();
maps = newArray("none");
for (i = 1; i <= nImages; i++) {
  selectImage(i);
  if (getImageID() != source) maps = Array.concat(maps, getTitle());
}
selectImage(source);
Dialog.create(what);
Dialog.addMessage("Deep-Z: refocus onto a 3D surface (a tilted plane, a cylinder or a height-map image in um)");
Dialog.addChoice("Surface", newArray("tilt", "cylinder", "height map"), deepzPref("surface", "tilt"));
Dialog.addNumber("Tilt_x", deepzPrefNumber("tilt_x", 0), 2, 7, "deg (about the x axis: dz changes along y)");
Dialog.addNumber("Tilt_y", deepzPrefNumber("tilt_y", 0), 2, 7, "deg (about the y axis: dz changes along x)");
Dialog.addNumber("Offset", deepzPrefNumber("offset", 0), 2, 7, deepzMicro() + " (dz added everywhere)");
Dialog.addNumber("Radius", deepzPrefNumber("radius", 100), 2, 7, deepzMicro() + " (cylinder)");
Dialog.addChoice("Axis", newArray("x", "y"), deepzPref("axis", "x"));
Dialog.addChoice("Side", newArray("convex", "concave"), deepzPref("side", "convex"));
Dialog.addChoice("Height_map", maps, "none");
deepzAddModelFields();
Dialog.show();
surface = Dialog.getChoice();
tiltX = Dialog.getNumber();
tiltY = Dialog.getNumber();
offset = Dialog.getNumber();
radius = Dialog.getNumber();
axis = Dialog.getChoice();
side = Dialog.getChoice();
heightMap = Dialog.getChoice();
if (deepzInteractive()) {
  deepzRemember("surface", surface); deepzRemember("tilt_x", tiltX); deepzRemember("tilt_y", tiltY);
  deepzRemember("offset", offset); deepzRemember("radius", radius); deepzRemember("axis", axis); deepzRemember("side", side);
}
options = deepzModelArgs(true);
if (surface == "height map" && heightMap == "none")
  deepzFail("", "the height-map surface needs a height-map image (heights in um); open one and choose it as Height map");
job = deepzNewJob();
input = deepzSaveImage(source, job, "input.tif", false);
args = newArray("surface", input, "--offset-um", d2s(offset, 6), "-o", job + "result.tif", "--no-progress");
if (surface == "tilt")
  args = Array.concat(args, newArray("--tilt-x-deg", d2s(tiltX, 6), "--tilt-y-deg", d2s(tiltY, 6)));
else if (surface == "cylinder")
  args = Array.concat(args, newArray("--cylinder-radius-um", d2s(radius, 6), "--axis", axis, "--side", side));
else {
  selectImage(heightMap);
  map = deepzSaveImage(getImageID(), job, "height_map.tif", false);
  selectImage(source);
  args = Array.concat(args, newArray("--height-map", map));
}
label = deepzRun(job, Array.concat(args, options), "surface");
deepzOpenResult(job, title + " " + label, "surface");
