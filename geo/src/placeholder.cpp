namespace terraseg::geo {}
