module orderscases.local/deploy/image/context

go 1.19

require github.com/moby/patternmatcher v0.6.1
