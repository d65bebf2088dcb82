-- book-html.lua - pandoc filter for `make book`: put each SVG diagram into the
-- page itself instead of linking it, so the timelines' hover details (the
-- <title> of every box and arrow) work in the browser. Graphviz numbers its
-- ids from 1 in every file, so each diagram's ids get a prefix of their own.
local count = 0

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function Image(img)
  if not img.src:match("%.svg$") then return nil end
  local svg = read(img.src)
  if not svg then return nil end
  count = count + 1
  local p = "d" .. count .. "-"
  svg = svg:gsub("^.-<svg", "<svg")                -- drop the XML prolog and doctype
  svg = svg:gsub('id="', 'id="' .. p)
  svg = svg:gsub("url%(#", "url(#" .. p)
  svg = svg:gsub('href="#', 'href="#' .. p)
  local alt = pandoc.utils.stringify(img.caption)
  return pandoc.RawInline("html",
    '<figure class="diagram" role="img" aria-label="' .. alt:gsub('"', "&quot;") .. '">' ..
    svg .. "<figcaption>" .. alt .. "</figcaption></figure>")
end
